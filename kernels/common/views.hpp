// SPDX-License-Identifier: BSD-3-Clause
// View aliases every kernel signature uses. All device tensors are float, LayoutRight (row-major, the layout of the
// reference's tensors and of the golden HDF5 files), in the default execution space's memory. Shapes are written
// next to each argument as `// (B, T, H, K)`; the dimension glossary is kernels/README.md.
#pragma once

#include <Kokkos_Core.hpp>

namespace selectiv {

using Exec = Kokkos::DefaultExecutionSpace;
using DeviceMem = Exec::memory_space;

template <class T>
using DeviceView1 = Kokkos::View<T*, Kokkos::LayoutRight, DeviceMem>;
template <class T>
using DeviceView2 = Kokkos::View<T**, Kokkos::LayoutRight, DeviceMem>;
template <class T>
using DeviceView3 = Kokkos::View<T***, Kokkos::LayoutRight, DeviceMem>;
template <class T>
using DeviceView4 = Kokkos::View<T****, Kokkos::LayoutRight, DeviceMem>;

using View1 = DeviceView1<float>;
using View2 = DeviceView2<float>;
using View3 = DeviceView3<float>;
using View4 = DeviceView4<float>;
using CView1 = DeviceView1<const float>;
using CView2 = DeviceView2<const float>;
using CView3 = DeviceView3<const float>;
using CView4 = DeviceView4<const float>;
using IView1 = DeviceView1<int>;
using IView2 = DeviceView2<int>;

}  // namespace selectiv
