'use strict';
module.exports = require('./load.cjs')(() => require('../dist/capture/index.js'), 'iosdevice/capture');
