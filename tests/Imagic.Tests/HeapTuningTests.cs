namespace Imagic.Tests;

public class HeapTuningTests
{
    [Fact]
    public void Apply_TakesEffectOnGlibcUnlessTheUserChoseOwnSettings()
    {
        bool applied = HeapTuning.Apply();

        bool glibc = OperatingSystem.IsLinux() && System.Runtime.InteropServices.NativeLibrary.TryLoad("libc.so.6", out _);
        Assert.Equal(glibc && !HeapTuning.UserChoseOwn(), applied);
        Assert.Equal(applied, HeapTuning.Apply()); // once per process: a second call reports the same
    }

    [Theory]
    [InlineData(null, null, false)]
    [InlineData("IMAGIC_HEAP_TUNING", "1", false)]
    [InlineData("IMAGIC_HEAP_TUNING", "0", true)]
    [InlineData("GLIBC_TUNABLES", "glibc.malloc.trim_threshold=0", true)]
    [InlineData("MALLOC_TRIM_THRESHOLD_", "131072", true)]
    [InlineData("MALLOC_MMAP_THRESHOLD_", "", false)]
    public void UserChoseOwn_ReadsTheOptOutAndGlibcsOwnVariables(string? name, string? value, bool expected)
    {
        Assert.Equal(expected, HeapTuning.UserChoseOwn(n => n == name ? value : null));
    }
}
