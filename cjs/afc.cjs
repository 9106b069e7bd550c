'use strict';
module.exports = require('./load.cjs')(() => require('../dist/afc/index.js'), 'iosdevice/afc');
