using System.CommandLine;
using Imagic.Cli.Commands;

namespace Imagic.Cli;

/// <summary>The <c>imagic</c> command tree.</summary>
public static class CliApp
{
    public static RootCommand BuildRoot() => new(
        "Imagic: edit a real photo with a text prompt using a diffusion model (Kawar et al., CVPR 2023).\n" +
        "Works on Stable Diffusion 1.x/2.x folders in the diffusers layout, single-file .safetensors checkpoints and the bundled shapes model.")
    {
        GenerateCommand.Create(),
        EditCommand.Create(),
        SampleCommand.Create(),
        TrainCommand.Create(),
        EvalModelCommand.Create(),
        BenchCommand.Create(),
        ConvertCommand.Create(),
        ServeCommand.Create(),
    };

    /// <summary>Parses and runs; returns the process exit code (0 success, 1 error, 130 cancelled).</summary>
    public static int Run(string[] args) => CliRunner.Run(BuildRoot(), args);
}
