using System.Text.RegularExpressions;
using Imagic.Cli;
using Imagic.Pipelines;
using TorchSharp;
using static TorchSharp.torch;

namespace Imagic.Tests;

public class DeviceTests
{
    [Fact]
    public void Source_CreatesNoCpuDeviceOutsideTheDeviceChoice()
    {
        // Given every C# file of the library, the CLI and the benchmarks
        var literal = new Regex(@"torch\.CPU\b|torch\.device\(\s*""cpu|new\s+Device\(\s*""cpu|DeviceType\.CPU\s*[,)]");
        var sources = new[] { "src", "bench" }
            .SelectMany(d => Directory.EnumerateFiles(Path.Combine(TestPaths.RepoRoot, d), "*.cs", SearchOption.AllDirectories))
            .Where(f => !f.Contains($"{Path.DirectorySeparatorChar}obj{Path.DirectorySeparatorChar}")
                && !f.Contains($"{Path.DirectorySeparatorChar}bin{Path.DirectorySeparatorChar}"))
            .ToList();
        Assert.True(sources.Count > 50, $"only {sources.Count} source files found");

        // When they are searched for CPU device literals
        var hits = sources.Where(f => Path.GetFileName(f) != "ComputeDevice.cs")
            .SelectMany(f => File.ReadLines(f).Select((line, i) => (f, i, line)))
            .Where(x => literal.IsMatch(x.line))
            .Select(x => $"{Path.GetRelativePath(TestPaths.RepoRoot, x.f)}:{x.i + 1}: {x.line.Trim()}")
            .ToList();

        // Then there is none: tensors, modules and generators follow the chosen device
        Assert.True(hits.Count == 0, "CPU literals outside ComputeDevice.cs:\n" + string.Join("\n", hits));
    }

    [Theory]
    [InlineData("cpu")]
    [InlineData("CPU")]
    public void Parse_Cpu_IsTheCpu(string name) => Assert.True(ComputeDevice.IsCpu(ComputeDevice.Parse(name)));

    [Theory]
    [InlineData("cuda", "no CUDA support")]
    [InlineData("cuda:1", "no CUDA support")]
    [InlineData("cuda:x", "must be a number")]
    [InlineData("mps", "Unknown device 'mps'")]
    public void Parse_UnavailableOrUnknownDevice_FailsWithOneLine(string name, string expected)
    {
        if (torch.cuda.is_available() && name == "cuda")
        {
            Assert.Equal(DeviceType.CUDA, ComputeDevice.Parse(name).type); // a CUDA build: the device is usable
            return;
        }
        var e = Assert.Throws<ImagicException>(() => ComputeDevice.Parse(name));
        Assert.Contains(expected, e.Message);
        Assert.DoesNotContain('\n', e.Message);
    }

    [Fact]
    public void EveryCommand_HasADeviceOption()
    {
        var commands = CliApp.BuildRoot().Subcommands;
        Assert.NotEmpty(commands);
        foreach (var command in commands)
            Assert.True(command.Options.Any(o => o.Name == "--device"), $"'{command.Name}' has no --device");
    }

    [Fact]
    public void LoadedPipeline_RunsOnTheChosenDevice()
    {
        using var pipe = StableDiffusionPipeline.Load(TestPaths.TinySd1, new PipelineLoadOptions { Device = ComputeDevice.Parse("cpu") });
        Assert.True(ComputeDevice.IsCpu(pipe.Device));
        Assert.All(pipe.UNet.parameters(), p => Assert.Equal(pipe.Device.type, p.device.type));
    }
}
