'use strict';
module.exports = require('./load.cjs')(() => require('../dist/usb/index.js'), 'iosdevice/usb');
