using System.Security.Cryptography;
using System.Text;

namespace Imagic.Editing;

/// <summary>
/// A cheap identity of a model folder: SHA-256 over its JSON configs and, for each weights file, its
/// size and first and last megabyte. Reading whole multi-GB checkpoints would take longer than the
/// check is worth; this still tells two different checkpoints apart.
/// </summary>
public static class ModelFingerprint
{
    const int Chunk = 1 << 20;

    public static string Compute(string modelDir)
    {
        using var sha = SHA256.Create();
        var root = Path.GetFullPath(modelDir);
        // A single-file checkpoint is its own only file.
        IEnumerable<string> files = File.Exists(root) ? [Path.GetFileName(root)] : Directory.EnumerateFiles(root, "*", SearchOption.AllDirectories)
            .Where(f => f.EndsWith(".json", StringComparison.Ordinal) || f.EndsWith(".safetensors", StringComparison.Ordinal))
            .Where(f => !Path.GetFileName(f).Equals("imagic_defaults.json", StringComparison.Ordinal))
            .Select(f => Path.GetRelativePath(root, f).Replace('\\', '/'))
            .OrderBy(f => f, StringComparer.Ordinal);
        foreach (var rel in files)
        {
            Add(sha, Encoding.UTF8.GetBytes(rel + "\n"));
            var path = File.Exists(root) ? root : Path.Combine(root, rel);
            using var stream = File.OpenRead(path);
            long length = stream.Length;
            Add(sha, BitConverter.GetBytes(length));
            var buffer = new byte[(int)Math.Min(Chunk, length)];
            stream.ReadExactly(buffer);
            Add(sha, buffer);
            if (length > 2 * Chunk)
            {
                stream.Seek(-Chunk, SeekOrigin.End);
                stream.ReadExactly(buffer);
                Add(sha, buffer);
            }
        }
        sha.TransformFinalBlock(Array.Empty<byte>(), 0, 0);
        return Convert.ToHexString(sha.Hash!).ToLowerInvariant();
    }

    static void Add(HashAlgorithm sha, byte[] bytes) => sha.TransformBlock(bytes, 0, bytes.Length, null, 0);
}
