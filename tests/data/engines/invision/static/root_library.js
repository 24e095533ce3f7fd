/* ips library (fixture) */
