pub mod emulator;
pub mod redis_server;
