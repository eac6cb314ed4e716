//! End-to-end: the Providers screen (written below).
