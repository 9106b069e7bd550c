'use strict';
module.exports = require('./load.cjs')(() => require('../dist/pairing/index.js'), 'iosdevice/pairing');
