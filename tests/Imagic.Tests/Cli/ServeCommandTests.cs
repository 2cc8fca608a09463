namespace Imagic.Tests.Cli;

/// <summary><c>imagic serve</c> reads its model with the same options as the other commands, and checks them before serving.</summary>
[Collection(ConsoleCollection.Name)]
public class ServeCommandTests
{
    [Theory]
    [InlineData("tpu", "Unknown device 'tpu'")]
    [InlineData("cuda:x", "the GPU index after 'cuda:' must be a number")]
    public void Serve_BadDevice_PrintsOneLineError_AndServesNothing(string device, string expected)
    {
        var dir = TestPaths.NewTempDir();

        var (code, stdout, stderr) = CliHarness.Run("serve", "--model", TestPaths.TinySd1, "--runs", Path.Combine(dir, "runs"),
            "--port", "0", "--device", device);

        Assert.Equal(1, code);
        Assert.Contains(expected, stderr);
        Assert.Single(stderr.Trim().Split('\n'));
        Assert.DoesNotContain("Imagic Studio:", stdout);
        Assert.Empty(Directory.EnumerateFileSystemEntries(dir));
    }

    [Fact]
    public void Serve_DeviceCpu_IsAccepted_AndTheModelIsCheckedNext()
    {
        var dir = TestPaths.NewTempDir();
        var missing = Path.Combine(dir, "no-model");

        var (code, stdout, stderr) = CliHarness.Run("serve", "--model", missing, "--runs", Path.Combine(dir, "runs"), "--port", "0",
            "--device", "cpu");

        // The device passes; the one error is about the model, and nothing was served or written
        Assert.Equal(1, code);
        Assert.Contains(missing, stderr);
        Assert.DoesNotContain("device", stderr);
        Assert.Single(stderr.Trim().Split('\n'));
        Assert.DoesNotContain("Imagic Studio:", stdout);
        Assert.Empty(Directory.EnumerateFileSystemEntries(dir));
    }
}
