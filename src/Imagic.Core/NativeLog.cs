using System.Runtime.InteropServices;
using TorchSharp;

namespace Imagic;

/// <summary>libtorch's own C++ log (c10's), which writes to stderr past .NET.</summary>
public static class NativeLog
{
    /// <summary>c10's log threshold: 0 info, 1 warning (its default), 2 error.</summary>
    const int ErrorLevel = 2;

    /// <summary>
    /// Raises libtorch's C++ log threshold from warnings to errors, unless <c>TORCH_CPP_LOG_LEVEL</c> is set, and
    /// returns whether it did. On an AVX-512 EPYC (Zen 5) libtorch 2.10 warns "Could not initialize NNPACK! Reason:
    /// Unsupported hardware." for each of many convolutions (10 lines for a 2-step <c>imagic generate</c>) and falls back
    /// to its other kernels, which is nothing a user can act on. libtorch reads <c>TORCH_CPP_LOG_LEVEL</c> only when a
    /// Python front end initialises logging, so the threshold (<c>FLAGS_caffe2_log_level</c>, exported by libc10) is
    /// set directly. Errors still print.
    /// </summary>
    public static bool QuietWarnings()
    {
        if (!string.IsNullOrEmpty(Environment.GetEnvironmentVariable("TORCH_CPP_LOG_LEVEL"))) return false;
        if (LevelAddress() is not { } level) return false;
        Marshal.WriteInt32(level, Math.Max(Marshal.ReadInt32(level), ErrorLevel));
        return true;
    }

    /// <summary>c10's current log threshold, or null where libc10 does not export it.</summary>
    public static int? Level() => LevelAddress() is { } level ? Marshal.ReadInt32(level) : null;

    static IntPtr? LevelAddress()
    {
        torch.zeros(1).Dispose(); // libc10 is loaded with libtorch, at TorchSharp's first call
        string library = OperatingSystem.IsWindows() ? "c10.dll" : OperatingSystem.IsMacOS() ? "libc10.dylib" : "libc10.so";
        return NativeLibrary.TryLoad(library, typeof(torch).Assembly, null, out var handle)
            && NativeLibrary.TryGetExport(handle, "FLAGS_caffe2_log_level", out var level) ? level : null;
    }
}
