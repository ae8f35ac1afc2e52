"""Size limits on what a model's files declare, checked before anything is allocated.

A model's files can declare any size: an ``Embedding`` with an ``input_dim``
of two billion, or an HDF5 dataset declared terabytes long, makes Keras or
h5py try to allocate it. The limits are generous for real models and far
below what exhausts a machine.
"""

from __future__ import annotations

#: A BERT-base checkpoint holds ~440 MB of float32 weights; a GoogleNews
#: word2vec embedding (3M words x 300) ~3.6 GB. Nothing Kashgari builds is larger.
MAX_WEIGHT_BYTES = 4 * 1024**3
#: Rows of one embedding matrix: GoogleNews word2vec has 3,000,000 words.
MAX_VOCABULARY = 4_000_000
#: Units, filters or output size of one layer. BERT-large is 1,024 wide with a
#: 4,096 feed-forward; an LSTM this wide already holds 4 x 8192^2 floats (1 GiB).
MAX_LAYER_WIDTH = 8_192
#: Tokens per sequence: BERT takes 512, long-document models 4,096-16,384.
MAX_SEQUENCE_LENGTH = 65_536
#: Width of a convolution or pooling window: Kashgari's CNN models use 3 to 5.
MAX_WINDOW = 1_024
#: ``model_config.json`` carries the vocabularies as JSON; a 3M-word one takes
#: about 60 MB, and parsing JSON costs several times the file size in memory.
MAX_CONFIG_BYTES = 256 * 1024**2
#: Keras configs nest a few levels (Functional > Bidirectional > LSTM >
#: initializer); anything this deep is not a Keras model.
MAX_CONFIG_DEPTH = 64

#: Config keys that size a weight matrix or a sequence, and the limit of each.
SIZE_KEYS: dict[str, int] = {
    "input_dim": MAX_VOCABULARY,
    "vocab_size": MAX_VOCABULARY,
    "units": MAX_LAYER_WIDTH,
    "filters": MAX_LAYER_WIDTH,
    "output_dim": MAX_LAYER_WIDTH,
    "embedding_size": MAX_LAYER_WIDTH,
    "hidden_size": MAX_LAYER_WIDTH,
    "intermediate_size": MAX_LAYER_WIDTH,
    "key_size": MAX_LAYER_WIDTH,
    "key_dim": MAX_LAYER_WIDTH,
    "head_size": MAX_LAYER_WIDTH,
    "heads": MAX_LAYER_WIDTH,
    "num_heads": MAX_LAYER_WIDTH,
    "input_length": MAX_SEQUENCE_LENGTH,
    "sequence_length": MAX_SEQUENCE_LENGTH,
    "max_position": MAX_SEQUENCE_LENGTH,
    "batch_input_shape": MAX_SEQUENCE_LENGTH,
    "batch_shape": MAX_SEQUENCE_LENGTH,
    "kernel_size": MAX_WINDOW,
    "pool_size": MAX_WINDOW,
    "strides": MAX_WINDOW,
    "dilation_rate": MAX_WINDOW,
}
