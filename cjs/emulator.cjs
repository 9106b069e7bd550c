'use strict';
module.exports = require('./load.cjs')(() => require('../dist/virtual-iphone/index.js'), 'iosdevice/emulator');
