using System.CommandLine;
using Imagic.Cli;
using Imagic.Cli.Commands;

var root = new RootCommand(
    "Imagic: edit a real photo with a text prompt using a diffusion model (Kawar et al., CVPR 2023).\n" +
    "Works on Stable Diffusion 1.x/2.x folders in the diffusers layout and on the bundled shapes model.")
{
    GenerateCommand.Create(),
};
return CliRunner.Run(root, args);
