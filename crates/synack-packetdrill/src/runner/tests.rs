//! Unit tests of the runner: failure messages, timing tolerance, unexpected packets.
