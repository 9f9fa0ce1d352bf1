"""A trained run outside training: prediction on a user's photos (``basnet predict``) and ONNX
export (``basnet export``)."""
