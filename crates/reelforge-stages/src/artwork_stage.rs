//! `artwork`: not built yet.
