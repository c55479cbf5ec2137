//! `renditions`: not built yet.
