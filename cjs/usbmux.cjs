'use strict';
module.exports = require('./load.cjs')(() => require('../dist/usbmux/index.js'), 'iosdevice/usbmux');
