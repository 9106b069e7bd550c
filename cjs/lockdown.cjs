'use strict';
module.exports = require('./load.cjs')(() => require('../dist/lockdown/index.js'), 'iosdevice/lockdown');
