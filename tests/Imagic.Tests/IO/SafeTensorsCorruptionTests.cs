using System.Buffers.Binary;
using System.Text;
using Imagic.IO;

namespace Imagic.Tests.IO;

/// <summary>Damaged or forged safetensors files must fail with an <see cref="ImagicException"/>, never a crash or garbage.</summary>
public class SafeTensorsCorruptionTests
{
    static string UNetWeights => Path.Combine(TestPaths.TinySd1, "unet", "diffusion_pytorch_model.safetensors");

    static string WriteRaw(string headerJson, int dataBytes)
    {
        var header = Encoding.UTF8.GetBytes(headerJson);
        var bytes = new byte[8 + header.Length + dataBytes];
        BinaryPrimitives.WriteUInt64LittleEndian(bytes, (ulong)header.Length);
        header.CopyTo(bytes, 8);
        var path = Path.Combine(TestPaths.NewTempDir(), "forged.safetensors");
        File.WriteAllBytes(path, bytes);
        return path;
    }

    static string CopyTruncated(long keepBytes)
    {
        var path = Path.Combine(TestPaths.NewTempDir(), "truncated.safetensors");
        File.Copy(UNetWeights, path);
        File.SetAttributes(path, FileAttributes.Normal); // the reference data is read-only
        using (var stream = new FileStream(path, FileMode.Open, FileAccess.Write))
            stream.SetLength(keepBytes);
        return path;
    }

    [Fact]
    public void Open_FileTruncatedInTheData_FailsSayingTruncated()
    {
        long length = new FileInfo(UNetWeights).Length;
        var path = CopyTruncated(length - 1000);

        var e = Assert.Throws<ImagicException>(() => SafeTensorsFile.Open(path));

        Assert.Contains("truncated", e.Message);
        Assert.Contains(path, e.Message);
    }

    [Fact]
    public void Open_FileTruncatedInTheHeader_FailsSayingTruncated()
    {
        var path = CopyTruncated(100);

        var e = Assert.Throws<ImagicException>(() => SafeTensorsFile.Open(path));

        Assert.Contains("truncated", e.Message);
    }

    [Fact]
    public void Open_RandomBytes_FailsWithImagicException()
    {
        var path = Path.Combine(TestPaths.NewTempDir(), "noise.safetensors");
        var bytes = new byte[4096];
        new Random(1234).NextBytes(bytes);
        File.WriteAllBytes(path, bytes);

        var e = Assert.Throws<ImagicException>(() => SafeTensorsFile.Open(path));

        Assert.Contains(path, e.Message);
    }

    [Fact]
    public void Open_SmallHeaderLengthOverNonJson_FailsWithImagicException()
    {
        var path = WriteRaw("this is not json at all", 0);

        var e = Assert.Throws<ImagicException>(() => SafeTensorsFile.Open(path));

        Assert.Contains("JSON", e.Message);
    }

    [Fact]
    public void Open_OverlappingDataOffsets_FailsMentioningOverlap()
    {
        var path = WriteRaw("""
            {"a": {"dtype": "F32", "shape": [4], "data_offsets": [0, 16]},
             "b": {"dtype": "F32", "shape": [4], "data_offsets": [8, 24]}}
            """, 24);

        var e = Assert.Throws<ImagicException>(() => SafeTensorsFile.Open(path));

        Assert.Contains("overlaps", e.Message);
        Assert.Contains("'b'", e.Message);
    }

    [Fact]
    public void Open_ByteSizeDisagreeingWithShape_FailsNamingTheTensor()
    {
        var path = WriteRaw("""
            {"w": {"dtype": "F32", "shape": [2, 3], "data_offsets": [0, 20]}}
            """, 20);

        var e = Assert.Throws<ImagicException>(() => SafeTensorsFile.Open(path));

        Assert.Contains("'w'", e.Message);
        Assert.Contains("24 bytes", e.Message);
    }
}
