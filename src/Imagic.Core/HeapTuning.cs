using System.Runtime.InteropServices;

namespace Imagic;

/// <summary>
/// glibc heap settings that keep libtorch's freed CPU buffers in the process for reuse, instead of handing them
/// back to the kernel and faulting fresh zeroed pages in on the next step.
/// </summary>
/// <remarks>
/// libtorch allocates every activation with plain <c>malloc</c>. glibc serves blocks of 128 KiB and more with
/// <c>mmap</c> until a freed one raises its threshold, and trims the top of its heaps whenever more than twice that
/// threshold lies free. A training step keeps its whole forward pass alive for backward and frees it at once, so
/// with the defaults every step gives megabytes back to the kernel and takes them again, page by page. The README
/// quickstart's edit on one thread made 3.5 times as many page faults and took 1.13–1.17 times as long with the
/// defaults as with these settings, the two run side by side (<c>docs/performance.md</c>). The results are the same
/// bit for bit: only where memory comes from changes. The cost is that the process keeps its peak heap until it
/// exits (the quickstart's peak resident size was 1–7 % higher). Set <c>IMAGIC_HEAP_TUNING=0</c> to keep glibc's
/// defaults, or <c>MALLOC_*_</c> / <c>GLIBC_TUNABLES</c> to choose other values (either leaves these alone).
/// </remarks>
public static class HeapTuning
{
    // glibc's mallopt parameters (malloc.h).
    const int TrimThreshold = -1;
    const int MmapThreshold = -3;

    /// <summary>The largest mmap threshold glibc accepts on 64-bit systems (DEFAULT_MMAP_THRESHOLD_MAX).</summary>
    const int MaxMmapThreshold = 32 * 1024 * 1024;

    /// <summary>glibc's own ways to set these (read at process start), which win over ours.</summary>
    static readonly string[] GlibcVariables =
        { "GLIBC_TUNABLES", "MALLOC_MMAP_THRESHOLD_", "MALLOC_TRIM_THRESHOLD_", "MALLOC_TOP_PAD_", "MALLOC_MMAP_MAX_" };

    static int _applied; // 0 not yet, 1 applied, 2 left alone

    /// <summary>
    /// Applies the settings once per process, on glibc only, unless the user chose their own (see remarks); returns
    /// whether they are in force. Safe to call from any entry point before heavy work; later calls do nothing.
    /// </summary>
    public static bool Apply()
    {
        if (_applied == 0)
            Interlocked.CompareExchange(ref _applied, TryApply() ? 1 : 2, 0);
        return _applied == 1;
    }

    [UnmanagedFunctionPointer(CallingConvention.Cdecl)]
    delegate int Mallopt(int parameter, int value);

    static bool TryApply()
    {
        if (!OperatingSystem.IsLinux() || UserChoseOwn()) return false;
        if (!NativeLibrary.TryLoad("libc.so.6", out var libc)) return false; // not glibc (musl has no mallopt tuning)
        if (!NativeLibrary.TryGetExport(libc, "mallopt", out var address)) return false;
        var mallopt = Marshal.GetDelegateForFunctionPointer<Mallopt>(address);
        // Blocks below 32 MiB come from the heap, and the heap is never trimmed. Setting either one also turns off
        // glibc's dynamic threshold, which would otherwise move them back.
        return mallopt(MmapThreshold, MaxMmapThreshold) == 1 && mallopt(TrimThreshold, int.MaxValue) == 1;
    }

    /// <summary>
    /// Whether the environment asks to leave glibc's heap settings alone: <c>IMAGIC_HEAP_TUNING=0</c>, or the user's
    /// own <c>GLIBC_TUNABLES</c> or <c>MALLOC_*_</c> variables.
    /// </summary>
    internal static bool UserChoseOwn(Func<string, string?>? environment = null)
    {
        environment ??= Environment.GetEnvironmentVariable;
        if (environment("IMAGIC_HEAP_TUNING") == "0") return true;
        foreach (var name in GlibcVariables)
            if (!string.IsNullOrEmpty(environment(name))) return true;
        return false;
    }
}
