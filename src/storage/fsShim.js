// Stands in for graceful-fs inside the bundle: proper-lockfile makes a handful of fs calls per lock and
// never holds enough files to need EMFILE retries, while loading graceful-fs costs every command ~5 ms.
module.exports = require('fs');
