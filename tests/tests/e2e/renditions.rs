//! End-to-end tests of the `renditions` stage.
