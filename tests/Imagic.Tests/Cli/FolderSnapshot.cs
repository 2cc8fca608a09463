namespace Imagic.Tests.Cli;

/// <summary>Every file and folder under a directory with its size and time, to show that a failed command left nothing behind.</summary>
internal static class FolderSnapshot
{
    public static IReadOnlyList<string> Take(string dir) =>
        Directory.EnumerateFileSystemEntries(dir, "*", SearchOption.AllDirectories)
            .Select(p => File.Exists(p)
                ? $"{Path.GetRelativePath(dir, p)} {new FileInfo(p).Length} {File.GetLastWriteTimeUtc(p).Ticks}"
                : Path.GetRelativePath(dir, p) + "/")
            .Order(StringComparer.Ordinal).ToList();
}
