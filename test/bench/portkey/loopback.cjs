// Preloaded into Portkey's gateway by make bench (node -r): its
// start-server.js listens on every interface, and everything the bench
// starts must listen on 127.0.0.1 only.
'use strict';
const net = require('net');
const listen = net.Server.prototype.listen;
net.Server.prototype.listen = function (...args) {
  if (typeof args[0] === 'number') {
    if (args.length === 1 || typeof args[1] === 'function') {
      args.splice(1, 0, '127.0.0.1');
    } else if (args[1] === undefined || args[1] === null) {
      args[1] = '127.0.0.1';
    }
  } else if (args[0] && typeof args[0] === 'object' && !args[0].host && !args[0].path) {
    args[0] = { ...args[0], host: '127.0.0.1' };
  }
  return listen.apply(this, args);
};
