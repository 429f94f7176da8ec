"""The host process while training: BLAS threads (`blas_threads`), BLAS routines NumPy does not
expose through the OpenBLAS it loaded (`openblas`, `blas`), subnormal flushing (`denormals`),
heap reuse (`heap_reuse`); `tuning.tuned_process` enters them together and restores them."""
