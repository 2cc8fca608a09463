using System.Diagnostics;
using System.Text.Json;
using Imagic.Editing;
using Imagic.Models;
using Imagic.Pipelines;
using Imagic.Schedulers;
using TorchSharp;
using static TorchSharp.torch;

namespace Imagic.Benchmarks;

/// <summary>One measured phase of <see cref="Sd15Benchmark"/>: its wall time and the peak resident memory reached during it.</summary>
/// <param name="Name">load, text encoding, generate, edit encode, edit stage C, edit decode, VAE decode, VAE encode.</param>
/// <param name="StepSeconds">The guided DDIM steps' wall times, for the phases that sample; empty otherwise.</param>
/// <param name="PeakResidentMegabytes">VmHWM over this phase alone (reset at its start), in MB.</param>
/// <param name="ResidentBeforeMegabytes">VmRSS when the phase started: what earlier phases left behind (the weights, mostly).</param>
/// <param name="Parts">For a generate: the peak and time of its parts (text encoding, sampling, VAE decode), split where the
/// UNet's and the VAE decoder's first layers first run; empty otherwise.</param>
public sealed record Sd15Phase(string Name, double Seconds, IReadOnlyList<double> StepSeconds, double PeakResidentMegabytes,
    double ResidentBeforeMegabytes, IReadOnlyList<Sd15Part> Parts)
{
    /// <summary>The phase's time minus its guided steps': loading, text encoding and the VAE, for a generate.</summary>
    public double SecondsOutsideSteps => Seconds - StepSeconds.Sum();
}

/// <summary>A part of a phase, from one hook to the next: its wall time and its own peak resident memory.</summary>
public sealed record Sd15Part(string Name, double Seconds, double PeakResidentMegabytes);

/// <summary>What <c>--measure sd15</c> reports.</summary>
/// <param name="PeakResetPerPhase">True when each phase's peak is its own; false where the kernel could not reset the high-water mark.</param>
public sealed record Sd15Report(int Height, int Width, int Steps, int Threads, string VaeMode, long TextEncoderParameters,
    long UNetParameters, long VaeParameters, double WeightMegabytes, IReadOnlyList<Sd15Phase> Phases, bool PeakResetPerPhase,
    string Machine)
{
    public string ToJson() => JsonSerializer.Serialize(this, new JsonSerializerOptions { WriteIndented = true });
}

/// <summary>
/// A full-size Stable Diffusion 1.5 pipeline with random weights (UNet from <c>bench/configs/sd15-unet</c>, VAE from
/// <c>bench/configs/sd15-vae</c>, text encoder from <c>bench/configs/sd15-text-encoder</c>: the published configs),
/// run through the same <see cref="StableDiffusionPipeline"/> and <see cref="InterpolationSampling"/> code as
/// <c>imagic generate</c> and <c>imagic edit</c>: the time and peak resident memory of loading, text encoding, a
/// 512×512 generate, an Imagic edit's VAE encode, stage C sampling and decode, and a bare VAE decode and encode.
/// </summary>
/// <remarks>
/// Random weights take the same memory and time as real ones. Weights are float32 (the pipeline loads fp16 files
/// into float32 modules one tensor at a time, so a folder load peaks at the same float32 weights plus one tensor).
/// Each phase's peak is measured alone by resetting the kernel's high-water mark (writing 5 to
/// <c>/proc/self/clear_refs</c>, Linux 4.0 and later) at the phase's start; where that fails, the peaks are the
/// process's so far, and the report says so (<see cref="Sd15Report.PeakResetPerPhase"/>).
/// </remarks>
public static class Sd15Benchmark
{
    /// <summary>The phases <c>--phases</c> accepts; loading always runs.</summary>
    public static readonly IReadOnlyList<string> PhaseNames = new[] { "text", "generate", "edit", "vae" };

    /// <param name="configsDir">The folder holding <c>sd15-unet</c>, <c>sd15-vae</c> and <c>sd15-text-encoder</c>.</param>
    /// <param name="tokenizerDir">A CLIP tokenizer folder (vocab.json, merges.txt): the bundled model's is CLIP's.</param>
    /// <param name="size">Image side in pixels, a multiple of 8. 512 is SD 1.5's.</param>
    /// <param name="steps">Guided DDIM steps of the generate and of stage C.</param>
    /// <param name="phases">Which of <see cref="PhaseNames"/> to run, in that order.</param>
    /// <param name="folder">Null (default): build the models with random weights, and measure that as the load. Otherwise a
    /// diffusers folder to load the way <c>imagic generate --model</c> does (float16 files into float32 modules); when it
    /// does not exist yet, the random pipeline is first saved there with float16 weights (about 2 GB; not measured).</param>
    public static Sd15Report Run(string configsDir, string tokenizerDir, int size, int steps, IReadOnlyCollection<string> phases,
        Action<string> log, string? folder = null)
    {
        var phaseList = new List<Sd15Phase>();
        bool resets = ProcessMemory.ResetPeak();
        if (folder is not null && !File.Exists(Path.Combine(folder, "model_index.json")))
        {
            log($"saving the random SD 1.5 pipeline to {folder} with float16 weights (not measured)");
            using (var random = Build(configsDir, tokenizerDir))
                random.Save(folder, ScalarType.Float16);
            GC.Collect();
            GC.WaitForPendingFinalizers();
            NativeHeap.Trim();
        }

        // Load: build the three models with random weights, or load them from the folder.
        Begin(out var clock, out double before);
        using var pipe = folder is null ? Build(configsDir, tokenizerDir) : StableDiffusionPipeline.Load(folder);
        phaseList.Add(End(folder is null ? "load (random float32 weights)" : "load (float16 folder into float32)", clock, [], before, log));
        var (textEncoder, unet, vae) = (pipe.TextEncoder, pipe.UNet, pipe.Vae!);
        long Count(nn.Module m) => m.parameters().Sum(p => p.numel());
        double weightMegabytes = new nn.Module[] { textEncoder, unet, vae }.SelectMany(m => m.parameters())
            .Sum(p => p.numel() * p.element_size()) / 1048576.0;
        log($"weights: text encoder {Count(textEncoder) / 1e6:F0} M, UNet {Count(unet) / 1e6:F0} M, VAE {Count(vae) / 1e6:F0} M parameters; " +
            $"{weightMegabytes:F0} MB in float32");

        const string prompt = "a photo of a dog standing on a beach";
        var options = new SamplingOptions { Steps = steps };
        if (phases.Contains("text"))
        {
            Begin(out clock, out before);
            using (var scope = torch.NewDisposeScope())
            {
                pipe.EncodePrompt(prompt);
                pipe.EncodePrompt("");
            }
            phaseList.Add(End("text encoding (prompt and empty prompt)", clock, [], before, log));
        }
        if (phases.Contains("generate"))
        {
            Begin(out clock, out before);
            using var stepTimes = new StepClock(clock, pipe.UNet, vae);
            using (var image = pipe.Generate(prompt, "", options, seed: 0, size, size, progress: stepTimes))
            {
            }
            phaseList.Add(End($"generate {size}×{size}, {steps} steps", clock, stepTimes.Seconds, before, log,
                stepTimes.Parts("text encoding", "sampling", "VAE decode")));
        }
        if (phases.Contains("edit"))
        {
            using var photo = torch.rand(new long[] { 1, 3, size, size }, generator: new Generator(1)) * 2 - 1;
            Begin(out clock, out before);
            var latents = pipe.EncodeImage(photo);
            phaseList.Add(End($"edit: VAE encode {size}×{size}", clock, [], before, log));

            Begin(out clock, out before);
            using var stepTimes = new StepClock(clock, pipe.UNet, null);
            Tensor clean;
            using (var eTgt = pipe.EncodePrompt(prompt))
            using (var eOpt = eTgt + 0.01)
            using (var stageC = new InterpolationSampling(pipe, options))
            using (var noise = InterpolationSampling.Noise(latents.shape, seed: 0, pipe.Device))
                clean = stageC.SampleLatents(eTgt, eOpt, new[] { 0.7 }, noise, progress: stepTimes);
            latents.Dispose();
            phaseList.Add(End($"edit: stage C, one η, {steps} steps", clock, stepTimes.Seconds, before, log));

            Begin(out clock, out before);
            pipe.DecodeLatents(clean).Dispose();
            clean.Dispose();
            phaseList.Add(End($"edit: VAE decode {size}×{size}", clock, [], before, log));
        }
        if (phases.Contains("vae"))
        {
            using var latents = torch.randn(new long[] { 1, pipe.LatentChannels, size / 8, size / 8 }, generator: new Generator(2));
            Begin(out clock, out before);
            using var image = pipe.DecodeLatents(latents);
            phaseList.Add(End($"VAE decode {size}×{size}", clock, [], before, log));
            Begin(out clock, out before);
            pipe.EncodeImage(image).Dispose();
            phaseList.Add(End($"VAE encode {size}×{size}", clock, [], before, log));
        }
        return new Sd15Report(size, size, steps, torch.get_num_threads(), "untiled", Count(textEncoder), Count(unet), Count(vae),
            weightMegabytes, phaseList, resets,
            $"{Environment.ProcessorCount} cores, {ProcessMemory.TotalGigabytes():F0} GB RAM, {System.Runtime.InteropServices.RuntimeInformation.OSDescription}");
    }

    internal static StableDiffusionPipeline Build(string configsDir, string tokenizerDir)
    {
        var scheduler = SchedulerConfig.FromFile(Path.Combine(configsDir, "sd15-unet", "scheduler", "scheduler_config.json"));
        torch.manual_seed(0);
        var textEncoder = new ClipTextModel(ClipTextConfig.FromFile(Path.Combine(configsDir, "sd15-text-encoder", "config.json")));
        var unet = new UNet2DConditionModel(UNet2DConditionConfig.FromFile(Path.Combine(configsDir, "sd15-unet", "unet", "config.json")));
        var vae = new AutoencoderKL(AutoencoderKLConfig.FromFile(Path.Combine(configsDir, "sd15-vae", "config.json")));
        var pipe = StableDiffusionPipeline.Create(tokenizerDir, textEncoder, unet, vae, scheduler);
        pipe.SetTrainable(false);
        return pipe;
    }

    static void Begin(out Stopwatch clock, out double residentBefore)
    {
        GC.Collect(); // tensors of earlier phases that only a finalizer would free
        GC.WaitForPendingFinalizers();
        ProcessMemory.ResetPeak();
        residentBefore = ProcessMemory.ResidentMegabytes();
        clock = Stopwatch.StartNew();
    }

    static Sd15Phase End(string name, Stopwatch clock, IReadOnlyList<double> stepSeconds, double residentBefore, Action<string> log,
        IReadOnlyList<Sd15Part>? parts = null)
    {
        parts ??= [];
        double peak = parts.Select(p => p.PeakResidentMegabytes).Append(ProcessMemory.PeakResidentMegabytes()).Max();
        var phase = new Sd15Phase(name, clock.Elapsed.TotalSeconds, stepSeconds, peak, residentBefore, parts);
        string steps = stepSeconds.Count == 0 ? "" : $" (steps {string.Join(", ", stepSeconds.Select(s => $"{s:F1}"))} s)";
        string split = parts.Count == 0 ? "" : $" [{string.Join("; ", parts.Select(p => $"{p.Name} {p.Seconds:F1} s, peak {p.PeakResidentMegabytes:F0} MB"))}]";
        log($"{name}: {phase.Seconds:F1} s{steps}; peak {phase.PeakResidentMegabytes:F0} MB, from {residentBefore:F0} MB{split}");
        return phase;
    }

    /// <summary>
    /// Each guided step's wall time inside one call: a step ends when the pipeline reports it, and the first one starts
    /// when the UNet's first layer first runs (a forward pre-hook on <c>conv_in</c>), so text encoding before it is no step.
    /// With a VAE, the call is also split in three parts at the UNet's and the VAE decoder's first layers, each with its
    /// own peak resident memory (the high-water mark is reset at each split).
    /// </summary>
    internal sealed class StepClock : IProgress<StepProgress>, IDisposable
    {
        readonly Stopwatch _clock;
        readonly List<double> _seconds = new();
        readonly List<(double At, double Peak)> _splits = new();
        readonly List<IDisposable> _hooks = new();
        double? _last;

        public StepClock(Stopwatch clock, UNet2DConditionModel unet, AutoencoderKL? vae)
        {
            _clock = clock;
            var handle = unet.conv_in.register_forward_pre_hook((_, input) =>
            {
                if (_last is null)
                {
                    _last = _clock.Elapsed.TotalSeconds;
                    Split();
                }
                return input;
            });
            _hooks.Add(new HookRemover(handle.remove));
            if (vae is not null)
            {
                var decode = vae.post_quant_conv.register_forward_pre_hook((_, input) => { Split(); return input; });
                _hooks.Add(new HookRemover(decode.remove));
            }
        }

        void Split()
        {
            _splits.Add((_clock.Elapsed.TotalSeconds, ProcessMemory.PeakResidentMegabytes()));
            ProcessMemory.ResetPeak();
        }

        public IReadOnlyList<double> Seconds => _seconds;

        /// <summary>The parts between the splits, named in order; the last ends now.</summary>
        public IReadOnlyList<Sd15Part> Parts(params string[] names)
        {
            var ends = _splits.Append((At: _clock.Elapsed.TotalSeconds, Peak: ProcessMemory.PeakResidentMegabytes())).ToList();
            return ends.Select((e, i) => new Sd15Part(i < names.Length ? names[i] : $"part {i + 1}", e.At - (i == 0 ? 0 : ends[i - 1].At), e.Peak))
                .ToList();
        }

        public void Report(StepProgress value)
        {
            double now = _clock.Elapsed.TotalSeconds;
            _seconds.Add(now - (_last ?? now));
            _last = now;
        }

        public void Dispose()
        {
            foreach (var h in _hooks) h.Dispose();
        }
    }
}
