using System.Runtime.InteropServices;

namespace Imagic;

/// <summary>The C heap that libtorch allocates tensors from (glibc's malloc on Linux).</summary>
public static class NativeHeap
{
    /// <summary>
    /// Hands the heap's free memory back to the system (glibc's <c>malloc_trim(0)</c>); does nothing where that is not
    /// available. glibc keeps freed blocks smaller than its mmap threshold (up to 32 MB) in per-thread arenas: after a
    /// sampling loop at 512 px (feature maps of 10-40 MB) about 1 GB of freed memory stayed resident and counted again
    /// under the VAE decode's peak, whose large tensors are allocated anew. Cheap (a few milliseconds) next to a VAE pass.
    /// </summary>
    public static void Trim()
    {
        if (!OperatingSystem.IsLinux()) return;
        try
        {
            malloc_trim(UIntPtr.Zero);
        }
        catch (Exception e) when (e is DllNotFoundException or EntryPointNotFoundException)
        {
            // Not glibc (musl has no malloc_trim): nothing to hand back this way.
        }
    }

    [DllImport("libc", EntryPoint = "malloc_trim")]
    static extern int malloc_trim(UIntPtr pad);
}
