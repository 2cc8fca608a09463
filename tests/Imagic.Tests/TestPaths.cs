namespace Imagic.Tests;

/// <summary>Locates the repository and the shared reference data that sits beside it (../shared).</summary>
public static class TestPaths
{
    public static string RepoRoot { get; } = FindRepoRoot();

    /// <summary>The shared folder: $IMAGIC_SHARED, or ../shared beside the repository.</summary>
    public static string Shared { get; } =
        Environment.GetEnvironmentVariable("IMAGIC_SHARED") is { Length: > 0 } env ? env
        : Path.GetFullPath(Path.Combine(RepoRoot, "..", "shared"));

    public static string TinySd1 => Path.Combine(Shared, "reference", "tiny-sd1");
    public static string SdMini => Path.Combine(Shared, "bench", "sd-mini");
    /// <summary>The bundled shapes model, models/shapes.</summary>
    public static string BundledModel => Path.Combine(RepoRoot, "models", "shapes");
    public static string ReferenceTensors => Path.Combine(TinySd1, "reference.safetensors");

    /// <summary>
    /// A fresh empty folder for tests that write files. Every one lives under this test process's own root,
    /// <c>$TMP/imagic-tests-{pid}</c>. The root is deleted at exit when the test host gets to run its exit handlers (after
    /// a whole suite, vstest usually ends it first), and roots of processes that no longer run are swept when the next
    /// run starts, so at most one run's folders (about 0.7 GB for the whole suite) remain. Before this, every run left
    /// its folders behind and in a few days they filled the disk.
    /// </summary>
    public static string NewTempDir(string prefix = "imagic-test")
    {
        var dir = Path.Combine(TempRoot.Value, $"{prefix}-{Guid.NewGuid():N}");
        Directory.CreateDirectory(dir);
        return dir;
    }

    const string TempRootPrefix = "imagic-tests-";
    static readonly Lazy<string> TempRoot = new(CreateTempRoot);

    static string CreateTempRoot()
    {
        SweepStaleTempRoots();
        var root = Path.Combine(Path.GetTempPath(), TempRootPrefix + Environment.ProcessId);
        Directory.CreateDirectory(root);
        AppDomain.CurrentDomain.ProcessExit += (_, _) => TryDelete(root);
        return root;
    }

    static void SweepStaleTempRoots()
    {
        foreach (var dir in Directory.EnumerateDirectories(Path.GetTempPath(), TempRootPrefix + "*"))
            if (int.TryParse(Path.GetFileName(dir)[TempRootPrefix.Length..], out int pid) && !IsRunning(pid))
                TryDelete(dir);
    }

    static bool IsRunning(int pid)
    {
        try { using var p = System.Diagnostics.Process.GetProcessById(pid); return !p.HasExited; }
        catch (ArgumentException) { return false; }
    }

    static void TryDelete(string dir)
    {
        try { Directory.Delete(dir, recursive: true); }
        catch (IOException) { }
        catch (UnauthorizedAccessException) { }
    }

    static string FindRepoRoot()
    {
        var dir = new DirectoryInfo(AppContext.BaseDirectory);
        while (dir is not null && !File.Exists(Path.Combine(dir.FullName, "Imagic.sln")))
            dir = dir.Parent;
        return dir?.FullName ?? throw new InvalidOperationException("Cannot find Imagic.sln above " + AppContext.BaseDirectory);
    }
}
