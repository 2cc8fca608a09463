using System.CommandLine;
using Imagic.Pipelines;

namespace Imagic.Cli.Commands;

/// <summary><c>imagic convert</c>: a single-file LDM checkpoint to a diffusers folder.</summary>
internal static class ConvertCommand
{
    public static Command Create()
    {
        var input = new Argument<string>("checkpoint")
        {
            Description = "A single-file Stable Diffusion 1.x/2.x checkpoint in the original LDM layout (.safetensors), " +
                "e.g. v1-5-pruned-emaonly.safetensors.",
        };
        var output = new Option<string>("--out", "-o") { Description = "The diffusers folder to write.", Required = true };
        var half = new Option<bool>("--fp16") { Description = "Store the weights as float16 (half the size; they load as float32)." };
        var command = new Command("convert",
            "Convert a single-file checkpoint to a diffusers folder (model_index.json, unet/, vae/, text_encoder/, tokenizer/, scheduler/), " +
            "with the architecture inferred from its shapes unless --config is given.\n" +
            "Example: imagic convert v1-5-pruned-emaonly.safetensors --out ~/models/sd15")
        {
            input, output, half,
        };
        var loading = ModelLoadOptions.AddReadingTo(command);
        command.SetAction(result =>
        {
            string source = result.GetValue(input)!;
            string target = result.GetValue(output)!;
            if (Path.Exists(target) && (File.Exists(target) || Directory.EnumerateFileSystemEntries(target).Any()))
                throw new ImagicException($"--out {target} already exists and is not an empty folder; choose a new folder.");
            using var pipe = StableDiffusionPipeline.Load(source, loading.Read(result));
            pipe.Save(target, result.GetValue(half) ? TorchSharp.torch.ScalarType.Float16 : TorchSharp.torch.ScalarType.Float32);
            Console.WriteLine($"Wrote {Path.GetFullPath(target)} (UNet {string.Join("/", pipe.UNet.Config.BlockOutChannels)}, " +
                $"text encoder {pipe.TextEncoder.Config.HiddenSize} wide with {pipe.TextEncoder.Config.NumHiddenLayers} layers, " +
                $"{pipe.SchedulerConfig.PredictionType} prediction).");
            return 0;
        });
        return command;
    }
}
