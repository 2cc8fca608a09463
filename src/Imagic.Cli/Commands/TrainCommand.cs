using System.CommandLine;
using Imagic.Training;
using TorchSharp;

namespace Imagic.Cli.Commands;

/// <summary><c>imagic train</c>: trains the bundled shapes model from scratch.</summary>
internal static class TrainCommand
{
    public static Command Create()
    {
        var output = new Option<string>("--out", "-o") { Description = "Where to write the trained model (diffusers layout).", Required = true };
        var work = new Option<string>("--work") { Description = "Folder for checkpoints and the loss log; rerun with the same folder to resume.", Required = true };
        var tokenizer = new Option<string>("--tokenizer")
        {
            Description = "CLIP BPE tokenizer folder (vocab.json, merges.txt, tokenizer_config.json) to train with.",
            Required = true,
        };
        var defaults = new TrainingOptions();
        var vaeSteps = new Option<int>("--vae-steps") { Description = "Phase 1 (VAE) steps.", DefaultValueFactory = _ => defaults.VaeSteps };
        var vaeCrop = new Option<int>("--vae-crop")
        {
            Description = "Side of random square crops for the VAE to train on instead of whole images (images no larger are used whole).",
            DefaultValueFactory = _ => defaults.VaeCrop,
        };
        var steps = new Option<int>("--steps") { Description = "Phase 2 (UNet + text encoder) steps.", DefaultValueFactory = _ => defaults.Steps };
        var batch = new Option<int>("--batch") { Description = "Images per step.", DefaultValueFactory = _ => defaults.BatchSize };
        var lr = new Option<double>("--lr") { Description = "Phase 2 peak learning rate.", DefaultValueFactory = _ => defaults.LearningRate };
        var highNoiseShare = new Option<double>("--high-noise-share")
        {
            Description = "Share of each phase 2 batch trained at the noisiest timesteps (from --high-noise-start), where the model learns where objects go.",
            DefaultValueFactory = _ => defaults.HighNoiseShare,
        };
        var highNoiseStart = new Option<int>("--high-noise-start") { Description = "First timestep of that range (of 1000).", DefaultValueFactory = _ => defaults.HighNoiseStart };
        var minSnrGamma = new Option<double?>("--min-snr-gamma")
        {
            Description = "Weight each timestep's loss by Min-SNR-γ (Hang et al. 2023; try 5). Default: unweighted, as the bundled model was trained.",
        };
        var seed = new Option<long>("--seed") { Description = "Seed of the data and every random draw.", DefaultValueFactory = _ => 0 };
        var checkpointEvery = new Option<int>("--checkpoint-every") { Description = "Steps between checkpoints.", DefaultValueFactory = _ => defaults.CheckpointEvery };
        var threads = CommonOptions.Threads();
        var unetChannels = new Option<string?>("--unet-channels")
        {
            Description = "Channels of the UNet's three blocks, from the latents' full resolution down, e.g. 128,128,128 (multiples of 32). " +
                "Default: the world's architecture (96,128,128). Resume a run with the value it started with.",
        };
        var vaeFrom = new Option<string?>("--vae-from")
        {
            Description = "Start a new --work folder at phase 2 with the trained VAE of another run's work folder (same world, VAE phase done), " +
                "skipping the VAE phase: for experiments on the UNet.",
        };
        var fp16 = new Option<bool>("--fp16") { Description = "Store the exported weights as float16 (half the size; they load as float32)." };
        var world = new Option<string>("--world")
        {
            Description = "The shapes world: 'v1' (32 px, flat scenes: the bundled models v1–v5) or 'v2' (64 px, unnamed detail, " +
                "a 4× VAE to 16×16×4 latents and captions that leave things out: model v6).",
            DefaultValueFactory = _ => "v1",
        };
        world.AcceptOnlyFromAmong("v1", "v2");
        var partialCaptions = new Option<double>("--partial-captions")
        {
            Description = "World v2: share of the captions that name only the main object (alone, with its background or its position).",
            DefaultValueFactory = _ => defaults.PartialCaptions,
        };

        var command = new Command("train",
            "Train the bundled text-to-image model from scratch on the procedural shapes world: first a small VAE, then the UNet and CLIP " +
            "text encoder jointly on its latents (EMA weights, 10% caption dropout for guidance). Interrupt any time: rerun the same " +
            "command to resume from the last checkpoint.\n" +
            "Example: imagic train --tokenizer ../shared/reference/tiny-sd1/tokenizer --work /tmp/shapes-train --out models/shapes --fp16\n" +
            "World v2 (64 px): imagic train --world v2 --tokenizer ../shared/reference/tiny-sd1/tokenizer --work /tmp/shapes-v2 --out models/shapes --fp16")
        {
            output, work, tokenizer, vaeSteps, vaeCrop, steps, batch, lr, highNoiseShare, highNoiseStart, minSnrGamma, seed, checkpointEvery, threads, fp16,
            world, partialCaptions, unetChannels, vaeFrom,
        };
        var loading = ModelLoadOptions.AddDeviceTo(command);
        command.SetAction(result =>
        {
            using var ctrlC = new CtrlC();
            CommonOptions.ApplyThreads(result, threads);
            var options = new TrainingOptions
            {
                VaeSteps = result.GetValue(vaeSteps),
                VaeCrop = result.GetValue(vaeCrop),
                Steps = result.GetValue(steps),
                BatchSize = result.GetValue(batch),
                LearningRate = result.GetValue(lr),
                HighNoiseShare = result.GetValue(highNoiseShare),
                HighNoiseStart = result.GetValue(highNoiseStart),
                MinSnrGamma = result.GetValue(minSnrGamma),
                Seed = result.GetValue(seed),
                CheckpointEvery = result.GetValue(checkpointEvery),
                World = result.GetValue(world) == "v2" ? Imagic.World.WorldVersion.V2 : Imagic.World.WorldVersion.V1,
                PartialCaptions = result.GetValue(partialCaptions),
                UNetChannels = result.GetValue(unetChannels) is string c ? ParseChannels(c) : null,
            };
            // Everything that could fail after hours is checked before the work folder is created.
            options.Validate();
            OptionChecks.CheckOutputFolder(result.GetValue(output)!, "--out");
            OptionChecks.CheckOutputFolder(result.GetValue(work)!, "--work");
            Imagic.Tokenization.ClipTokenizer.FromFolder(result.GetValue(tokenizer)!);
            if (result.GetValue(vaeFrom) is string source) ShapesTrainer.CheckVaeSource(source, result.GetValue(work)!, options.World);
            var trainer = new ShapesTrainer(result.GetValue(work)!, result.GetValue(tokenizer)!, options, device: loading.Device(result));
            if (result.GetValue(vaeFrom) is string vaeWork)
            {
                trainer.StartFromVae(vaeWork);
                Console.WriteLine($"Starting phase 2 with the VAE of {Path.GetFullPath(vaeWork)}.");
            }
            else if (trainer.ReadState() is { } state)
                Console.WriteLine($"Resuming from {state.Phase} step {state.Step}.");
            var started = DateTime.UtcNow;
            using var pipe = ConsoleProgress.Run("train", progress => trainer.Train(progress, ctrlC.Token));
            pipe.Save(result.GetValue(output)!, result.GetValue(fp16) ? torch.ScalarType.Float16 : torch.ScalarType.Float32);
            Console.WriteLine($"Wrote {Path.GetFullPath(result.GetValue(output)!)} after {(DateTime.UtcNow - started).TotalMinutes:F1} min of this run.");
            return 0;
        });
        return command;
    }

    static int[] ParseChannels(string text)
    {
        var parts = text.Split(',', StringSplitOptions.TrimEntries);
        var channels = new int[parts.Length];
        for (int i = 0; i < parts.Length; i++)
            if (!int.TryParse(parts[i], System.Globalization.NumberStyles.Integer, System.Globalization.CultureInfo.InvariantCulture, out channels[i]))
                throw new ImagicException($"--unet-channels takes comma-separated whole numbers such as 128,128,128, got '{text}'.");
        return channels;
    }
}
