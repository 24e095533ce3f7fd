/* Discuz! common.js (fixture stub) */
function showWindow(){}
function zoom(){}
