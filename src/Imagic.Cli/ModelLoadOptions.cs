using System.CommandLine;
using Imagic.Pipelines;
using Imagic.Schedulers;

namespace Imagic.Cli;

/// <summary>
/// The options that say how a model is read and where it runs, shared by every command that loads one:
/// <c>--device</c>, and for single-file checkpoints <c>--config</c> and <c>--prediction-type</c>.
/// </summary>
internal sealed class ModelLoadOptions
{
    readonly Option<string> _device = new("--device")
    {
        Description = "Where to run: cpu, cuda or cuda:N. Seeds reproduce per device, not across devices. Default: cpu.",
        DefaultValueFactory = _ => "cpu",
    };
    readonly Option<string?> _config = new("--config")
    {
        Description = "For a single-file checkpoint (--model FILE.safetensors): a diffusers folder whose unet/, vae/ and text_encoder/ " +
            "config.json describe it, instead of inferring the architecture from its shapes (for fine-tunes with other widths).",
    };
    readonly Option<string?> _predictionType = new("--prediction-type")
    {
        Description = "What the UNet predicts, which weights cannot tell: epsilon or v_prediction. Default: the model folder's scheduler " +
            "config; for a single file, epsilon for SD 1.x and v_prediction for SD 2.x (pass epsilon for 2.x base models).",
    };

    readonly Option<bool> _ema = new("--ema")
    {
        Description = "For a single-file checkpoint that keeps both (e.g. v1-5-pruned.safetensors): load the UNet's EMA weights (model_ema.*) " +
            "instead of its training weights. The -emaonly files need no flag.",
    };

    ModelLoadOptions() => _predictionType.AcceptOnlyFromAmong("epsilon", "v_prediction");

    /// <summary>Adds the options to <paramref name="command"/>; <paramref name="modelOptions"/> false adds only --device.</summary>
    public static ModelLoadOptions AddTo(Command command, bool modelOptions = true)
    {
        var options = new ModelLoadOptions();
        command.Options.Add(options._device);
        if (modelOptions)
        {
            command.Options.Add(options._config);
            command.Options.Add(options._predictionType);
            command.Options.Add(options._ema);
        }
        return options;
    }

    /// <summary>The chosen device; fails with one line for an unknown name or a CUDA device this build cannot use.</summary>
    public TorchSharp.torch.Device Device(ParseResult result) => ComputeDevice.Parse(result.GetValue(_device));

    public PipelineLoadOptions Read(ParseResult result) => new()
    {
        Device = Device(result),
        ConfigDir = result.GetValue(_config),
        PredictionType = result.GetValue(_predictionType) switch
        {
            "epsilon" => PredictionType.Epsilon,
            "v_prediction" => PredictionType.VPrediction,
            _ => null,
        },
        UseEma = result.GetValue(_ema),
        TokenizerDir = BundledModel.TokenizerDir(),
    };
}
