//! Salon's audio devices and files.
