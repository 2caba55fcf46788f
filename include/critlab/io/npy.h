// NumPy .npy files (written as format version 1.0), so recordings load in Python with numpy.load and no
// critlab code. Supported element types: float16, float32, float64, int64, int32, uint8, bool (little-endian,
// C order).
#pragma once
#include <ATen/core/Tensor.h>

#include <filesystem>

namespace critlab::io {

// Writes a tensor (any device; copied to the CPU) atomically.
void write_npy(const std::filesystem::path& path, const at::Tensor& tensor);

// Reads a .npy file written by critlab or numpy (format versions 1 to 3; the header is parsed by
// io/npy_header.h, without libtorch). Throws critlab::Error naming the file on a bad header, an unsupported
// dtype, Fortran order, or a body shorter or longer than the header promises (checked against the file size
// before the tensor is allocated).
at::Tensor read_npy(const std::filesystem::path& path);

}  // namespace critlab::io
