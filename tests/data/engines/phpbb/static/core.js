/* phpBB core.js (fixture stub) */
var phpbb = {};
