//! relay-server: calls an echo server and wraps its reply.
#![allow(dead_code)]

mod client;
mod target;

fn main() {}
