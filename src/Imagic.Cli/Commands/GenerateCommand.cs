using System.CommandLine;
using Imagic.Imaging;
using Imagic.IO;
using Imagic.Pipelines;
using TorchSharp;

namespace Imagic.Cli.Commands;

/// <summary><c>imagic generate</c>: text to image with DDIM and classifier-free guidance.</summary>
internal static class GenerateCommand
{
    public static Command Create()
    {
        var prompt = new Option<string>("--prompt", "-p") { Description = "What the image should show.", Required = true };
        var negative = new Option<string>("--negative-prompt")
        {
            Description = "What the image should not show; guidance pushes away from it. Default: empty.",
            DefaultValueFactory = _ => "",
        };
        var steps = new Option<int>("--steps") { Description = "DDIM sampling steps.", DefaultValueFactory = _ => 50 };
        var guidance = new Option<double>("--guidance")
        {
            Description = "Classifier-free guidance scale: higher follows the prompt more closely; 1 disables guidance.",
            DefaultValueFactory = _ => 7.5,
        };
        var rescale = new Option<double>("--guidance-rescale")
        {
            Description = "Guidance rescale φ in [0, 1] (Lin et al. 2023): pulls the guided output's scale back toward the conditional " +
                "one, against over-saturated colours at high guidance; 0.7 is the paper's value. Default 0 (plain guidance).",
            DefaultValueFactory = _ => 0,
        };
        var seed = new Option<long>("--seed") { Description = "Random seed; the same seed gives the same image.", DefaultValueFactory = _ => 0 };
        var height = new Option<int?>("--height") { Description = "Image height in pixels, a multiple of the model's VAE factor (8 for Stable Diffusion). Default: the model's resolution." };
        var width = new Option<int?>("--width") { Description = "Image width in pixels, a multiple of the model's VAE factor (8 for Stable Diffusion). Default: the model's resolution." };
        var latents = new Option<string?>("--latents")
        {
            Description = "A safetensors file with a tensor named 'latents' [1, C, H/f, W/f] (f: the VAE factor): the initial noise, to reproduce a run of another implementation.",
        };
        var output = new Option<string>("--out", "-o") { Description = "Output PNG path.", DefaultValueFactory = _ => "out.png" };
        var force = new Option<bool>("--force") { Description = "Overwrite the --out file if it exists." };
        var ignoreMemory = new Option<bool>(OptionChecks.IgnoreMemoryOption)
        {
            Description = "Sample even when the rough memory estimate of the requested size exceeds this machine's memory.",
        };
        var vaeTiling = new Option<bool>("--vae-tiling")
        {
            Description = "Decode the image tile by tile (tiles of the model's resolution, overlaps blended), as diffusers' " +
                "enable_vae_tiling: the decoder's memory stays that of one tile at any size, and the image is close to, not equal " +
                "to, the untiled one. For sizes above the model's resolution; it changes nothing at or below it.",
        };
        var threads = CommonOptions.Threads();

        var command = new Command("generate", "Generate an image from a text prompt (text-to-image), the way Stable Diffusion does.\n" +
            "Example: imagic generate --prompt \"a large red circle in the center\" --out circle.png")
        {
            prompt, negative, steps, guidance, rescale, seed, height, width, latents, output, force, ignoreMemory, vaeTiling, threads,
        };
        var loading = ModelLoadOptions.AddTo(command,
            "Model: a folder in the diffusers layout (model_index.json, unet/, vae/, text_encoder/, tokenizer/, scheduler/) or a single-file " +
            "SD 1.x/2.x checkpoint (.safetensors, original LDM layout). Default: the bundled shapes model.");
        command.SetAction(result =>
        {
            // 1. everything that needs no model, before loading it
            string outPath = OptionChecks.CheckOutputPng(result.GetValue(output)!, result.GetValue(force));
            var options = new SamplingOptions { Steps = result.GetValue(steps), GuidanceScale = result.GetValue(guidance), GuidanceRescale = result.GetValue(rescale) };
            options.Validate(int.MaxValue);
            int? h = result.GetValue(height), w = result.GetValue(width);
            foreach (var (name, value) in new[] { ("--height", h), ("--width", w) })
                if (value is < 1) throw new ImagicException($"{name} must be a positive multiple of the model's VAE factor, got {value}.");

            // 2. what needs the model, before sampling
            CommonOptions.ApplyThreads(result, threads);
            using var pipe = StableDiffusionPipeline.Load(loading.ModelDir(result), loading.Read(result));
            pipe.Warn = message => Console.Error.WriteLine($"warning: {message}");
            if (result.GetValue(vaeTiling)) pipe.VaeTiling = new VaeTiling();
            pipe.CheckSamplingOptions(options);

            torch.Tensor? init = null;
            if (result.GetValue(latents) is string latentsPath)
            {
                using var file = SafeTensorsFile.Open(latentsPath);
                if (!file.Contains("latents"))
                    throw new ImagicException($"{latentsPath} has no tensor named 'latents' (it has: {string.Join(", ", file.Entries.Keys.Take(10))}).");
                init = file.Read("latents");
                // The latents decide the size unless it was given explicitly.
                var (latentHeight, latentWidth) = pipe.CheckInitialLatents(init, latentsPath);
                h ??= latentHeight;
                w ??= latentWidth;
            }
            int imageHeight = h ?? pipe.DefaultResolution, imageWidth = w ?? pipe.DefaultResolution;
            pipe.CheckImageSize(imageHeight, imageWidth);
            OptionChecks.CheckMemory(pipe, imageHeight, imageWidth, guided: options.GuidanceScale != 1, result.GetValue(ignoreMemory));

            var image = ConsoleProgress.Run("sampling", progress =>
                pipe.Generate(result.GetValue(prompt)!, result.GetValue(negative)!, options, result.GetValue(seed), imageHeight, imageWidth, init, progress));
            ImageIO.SavePng(ImageTensors.ToImage(image), outPath);
            Console.WriteLine($"Wrote {Path.GetFullPath(outPath)}");
            return 0;
        });
        return command;
    }
}
