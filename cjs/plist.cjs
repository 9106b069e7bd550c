'use strict';
module.exports = require('./load.cjs')(() => require('../dist/plist/index.js'), 'iosdevice/plist');
