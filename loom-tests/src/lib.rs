//! Nothing here: the models are in tests/.
