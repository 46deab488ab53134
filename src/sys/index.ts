export * from './ffi.js';
export * from './fs.js';
export * from './mount.js';
export * from './netns.js';
export * from './termios.js';
export * from './console-socket.js';
export * from './reaper.js';
