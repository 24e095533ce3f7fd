/* vBulletin js (fixture) */
