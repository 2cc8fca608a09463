using System.Buffers.Binary;
using Imagic.Tests.Cli;

namespace Imagic.Tests.IO;

[Collection(ConsoleCollection.Name)]
public class CorruptWeightsTests
{
    [Fact]
    public void Generate_UNetWeightsOverwrittenWithRandomBytes_IsRefusedAtLoad_NamingFileAndTensor()
    {
        // Given a copy of tiny-sd1 whose UNet tensor data (not its header) is random bytes
        var dir = TestPaths.NewTempDir();
        var model = GenerateCommandTests.CopyModel(dir);
        var weights = Path.Combine(model, "unet", "diffusion_pytorch_model.safetensors");
        var bytes = File.ReadAllBytes(weights);
        long dataStart = 8 + (long)BinaryPrimitives.ReadUInt64LittleEndian(bytes);
        new Random(19).NextBytes(bytes.AsSpan((int)dataStart));
        File.WriteAllBytes(weights, bytes);
        var output = Path.Combine(dir, "x.png");

        // When it generates
        var (code, _, stderr) = CliHarness.Run("generate", "--model", model, "--prompt", "a dog", "--steps", "1", "--out", output);

        // Then loading fails, naming the file and a tensor, and nothing is written
        Assert.Equal(1, code);
        var error = Assert.Single(stderr.Split('\n'), l => l.StartsWith("error: "));
        Assert.Contains($"Cannot load the unet from {weights}: tensor '", error);
        Assert.Contains("NaN or infinite value(s)", error);
        Assert.False(File.Exists(output));
    }
}
