'use strict';
module.exports = require('./load.cjs')(() => require('../dist/photos/index.js'), 'iosdevice/photos');
