/* app bundle (fixture) */
