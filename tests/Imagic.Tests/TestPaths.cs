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

    /// <summary>A fresh empty folder under the system temp folder, for tests that write files.</summary>
    public static string NewTempDir(string prefix = "imagic-test")
    {
        var dir = Path.Combine(Path.GetTempPath(), $"{prefix}-{Guid.NewGuid():N}");
        Directory.CreateDirectory(dir);
        return dir;
    }

    static string FindRepoRoot()
    {
        var dir = new DirectoryInfo(AppContext.BaseDirectory);
        while (dir is not null && !File.Exists(Path.Combine(dir.FullName, "Imagic.sln")))
            dir = dir.Parent;
        return dir?.FullName ?? throw new InvalidOperationException("Cannot find Imagic.sln above " + AppContext.BaseDirectory);
    }
}
