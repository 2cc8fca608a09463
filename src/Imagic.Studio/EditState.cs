using System.Text.Json.Serialization;
using Imagic.Editing;

namespace Imagic.Studio;

/// <summary>Where an edit is, as <c>GET /api/edits/{id}</c> and its events report it (snake_case in JSON).</summary>
/// <param name="Status">queued, training, ready, failed, cancelled, or interrupted (stopped by a server restart; resumable).</param>
/// <param name="Stage">"stage A", "stage B", "stage C (η sweep)" while training; "done" when trained.</param>
/// <param name="EtaSeconds">The estimated time left in the current stage.</param>
/// <param name="QueuePosition">For a queued edit: how many edits train before it.</param>
/// <param name="Mask">The run's own stage C mask (<see cref="ImagicOptions.Mask"/>): what a sample uses unless the request says.</param>
/// <param name="Warning">What the user should know about the result, e.g. that the model's VAE cannot hold the input
/// (<see cref="VaeCeiling"/>); null when there is nothing.</param>
public sealed record EditState(string Id, string Prompt, string Status, string Stage, int Step, int Total, double? Loss,
    double? EtaSeconds, string? Error, long Seed, double Eta, string Recipe, DateTimeOffset Created, int? QueuePosition = null,
    EditMaskMode Mask = EditMaskMode.None, string? Warning = null)
{
    public const string Queued = "queued", Training = "training", Ready = "ready", Failed = "failed", Cancelled = "cancelled",
        Interrupted = "interrupted";

    /// <summary>No more events will follow: the edit is trained, failed or stopped.</summary>
    [JsonIgnore]
    public bool IsFinal => Status is Ready or Failed or Cancelled or Interrupted;
}
