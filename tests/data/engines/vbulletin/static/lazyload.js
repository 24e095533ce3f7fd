/* lazyload plugin (fixture) */
