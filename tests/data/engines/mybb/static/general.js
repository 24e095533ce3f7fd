/* MyBB general.js (fixture stub) */
var MyBB = {};
