'use strict';
module.exports = require('./load.cjs')(() => require('../dist/errors.js'), 'iosdevice/errors');
